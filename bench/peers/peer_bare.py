"""The bare openai SDK: the baseline every peer's overhead is measured against."""

from _scenario import main

main("bare openai SDK")
