"""Incidents: findings grouped into incidents, their lifecycle, and the view the API shows. Pure."""
