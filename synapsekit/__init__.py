"""synapsekit"""
