module fatal_print_panics

go 1.15
