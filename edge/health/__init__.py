"""Device health (camera, detector, FPS, delegate, disk/queue, temperature) as states on
MQTT and Home Assistant, and an opt-in Prometheus /metrics endpoint."""
