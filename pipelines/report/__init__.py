"""Reports: the HTML validation report and JUnit XML."""
