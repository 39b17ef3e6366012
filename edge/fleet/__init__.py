"""Model releases for a fleet of boxes: package (workstation), verify, install with gates,
swap atomically, roll back, and take deliveries over MQTT + HTTP (device)."""
