# The feedback app has no models to show in the admin.
