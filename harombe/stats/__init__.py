"""What a peer observes about itself and the cluster: finished requests, live utilisation."""
