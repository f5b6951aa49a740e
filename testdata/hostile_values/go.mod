module hostile_values

go 1.19
