# etcetera-walbench: durable appends per second through the node's group commit versus one
# fdatasync per write, and pwrite+fdatasync versus io_uring for the WAL's batch sync.
add_executable(etcetera-walbench ${CMAKE_CURRENT_LIST_DIR}/walbench.c)
target_link_libraries(etcetera-walbench PRIVATE et_raft)
et_program(etcetera-walbench)
