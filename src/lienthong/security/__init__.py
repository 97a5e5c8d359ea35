"""Security monitoring and early warning: log intake, Sigma detection, alerts and cases."""
