"""The demo: a synthetic application, loopback PagerDuty and Slack stand-ins, and the live show."""
