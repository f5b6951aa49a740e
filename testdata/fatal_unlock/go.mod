module fatal_unlock

go 1.15
