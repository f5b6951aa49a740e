module defernil

go 1.15
