"""See what a run removed and why: the run's aggregates, the HTML report and the inspector."""
