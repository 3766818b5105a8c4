"""Supporting modules of the survey app: storage, queueing, geolocation, views."""
