"""placeholder until the instrumentor lands"""
