module main_panic

go 1.15
