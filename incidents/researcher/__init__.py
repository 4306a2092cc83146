"""The researcher's pages: browsing, and entering incidents with their sources and claims."""
