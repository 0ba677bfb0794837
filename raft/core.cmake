# The pure Raft core: no I/O, no clock, no threads (checked by tests/raft's nm test).
add_library(et_raft_core STATIC
    ${CMAKE_CURRENT_LIST_DIR}/raft.c
    ${CMAKE_CURRENT_LIST_DIR}/log.c
    ${CMAKE_CURRENT_LIST_DIR}/election.c
    ${CMAKE_CURRENT_LIST_DIR}/replication.c
    ${CMAKE_CURRENT_LIST_DIR}/snapshot.c
    ${CMAKE_CURRENT_LIST_DIR}/confchange.c
    ${CMAKE_CURRENT_LIST_DIR}/readindex.c
    ${CMAKE_CURRENT_LIST_DIR}/codec.c)
target_link_libraries(et_raft_core PUBLIC et_core PkgConfig::MSGPACK)
