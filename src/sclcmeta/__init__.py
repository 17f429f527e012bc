"""sclcmeta: Bayesian meta-analysis of immunotherapy evidence in ES-SCLC."""
__version__ = "0.1.0"
