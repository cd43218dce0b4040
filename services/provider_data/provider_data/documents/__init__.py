"""What the plan exchanges (X12 270/271 and 837P/276/277-like documents) and the
identifiers and code tables in them."""
