module fatal_values

go 1.15
