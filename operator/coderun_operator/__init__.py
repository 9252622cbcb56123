"""The kopf operator: CodeRun objects become locked-down Jobs, and pod outcomes become verdicts."""
