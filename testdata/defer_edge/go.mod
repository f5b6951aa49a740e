module defer_edge

go 1.19
