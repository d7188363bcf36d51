"""The conductor: runs each node's state machine through ordered steps, under a per-node lock.

Pure building blocks (hash ring, step declarations) live beside the service that uses them.
"""
