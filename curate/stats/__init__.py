"""Statistics every stage shares: confidence intervals and sample-size bounds."""
