"""Helpers the tests share: harnesses, fakes that speak real wire formats, polling."""
