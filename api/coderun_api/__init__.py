"""CodeRun's REST API, its CLI and the executors that run submissions."""
