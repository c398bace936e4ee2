"""The HTTP surface of a peer: Ollama and OpenAI APIs, cluster API, metrics, request signing."""
