/*
 * version.c — version and build facts (the commit comes from the generated lh_build_info.h).
 */
#include "lakehouse/lh_version.h"

#include "lh_build_info.h"

const char *lh_version(void)
{
    return LH_VERSION;
}

const char *lh_git_commit(void)
{
    return LH_GIT_COMMIT;
}
