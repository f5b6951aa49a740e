module go_victim

go 1.19
