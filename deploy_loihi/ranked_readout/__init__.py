"""Ranked readout Process: the best neurons of a population and their graded payloads."""
