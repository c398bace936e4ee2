"""Membership: SWIM + Lifeguard as a sans-I/O core, its asyncio runner, transport, discovery."""
