"""The canonical columns of every loaded eval set."""

# Canonical columns of every loaded set; slice columns sit beside them under their own names.
ID, TEXT, GOLD, WEIGHT, CONTESTED = "item_id", "text", "gold", "weight", "contested"
# Multi-label gold: `gold` is the ';'-joined violating categories, "benign" (every category known 0)
# or "unknown" (no known violation but some label missing); `gold_unknown` lists the categories
# whose label is missing ("" when all are known), so per-category rates can leave them out.
GOLD_UNKNOWN = "gold_unknown"
# Items that are translations of one another share a `parallel_id` ("" = in no group).
PARALLEL_ID = "parallel_id"
CORE_COLUMNS = (ID, TEXT, GOLD, WEIGHT, CONTESTED, GOLD_UNKNOWN, PARALLEL_ID)
MISSING_SLICE = "(missing)"
