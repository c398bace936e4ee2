"""Backends behind one `Backend` protocol: Ollama, OpenAI-compatible, llama.cpp, a remote peer."""
