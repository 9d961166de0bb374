"""Publishing: tiered releases (:mod:`justicelab.publish.tiers`)."""
