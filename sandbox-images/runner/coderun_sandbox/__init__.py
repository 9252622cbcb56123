"""The sandbox runner and the contract every CodeRun component shares.

Stdlib only: this package is copied as-is into the sandbox images, where it is the
container's entrypoint, and the API and operator import the same modules for the
language table, limits, verdicts and result format.
"""
