module merged_defer_bits

go 1.15
