# Feedback is emailed back to the visitor, not stored, so this app has no models.
