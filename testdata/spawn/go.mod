module spawn

go 1.15
