"""The edge to Elastic Cloud: an httpx client that speaks the API and nothing else."""
