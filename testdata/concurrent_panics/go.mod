module concurrent_panics

go 1.15
