"""The CLI's lifecycle of vclusters: one Driver per way of running them."""
