"""Rule paths: split off the resource type, compile the FHIRPath into steps once, evaluate them on typed trees."""
