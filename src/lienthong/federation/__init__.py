"""Node-to-node transport, directory sync and store-and-forward."""
