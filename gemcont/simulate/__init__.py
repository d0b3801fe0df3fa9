"""Simulators for the GEMCONT workflow (cohorts, phenotypes, images)."""
