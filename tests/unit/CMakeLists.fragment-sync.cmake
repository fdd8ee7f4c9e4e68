kernia_unit_test(tst_sync tst_sync.cpp test_server.h forwarding_store.h)
# Once more on PostgreSQL when scripts/test.sh provides one (see CMakeLists.fragment-postgres.cmake).
if(COMMAND kernia_unit_test_postgres)
    kernia_unit_test_postgres(tst_sync)
endif()
