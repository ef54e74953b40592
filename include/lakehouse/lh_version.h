/*
 * lh_version.h — what this binary is.
 */
#ifndef LH_VERSION_H
#define LH_VERSION_H

#define LH_VERSION "0.1.0"

const char *lh_version(void);    /* "0.1.0" */
const char *lh_git_commit(void); /* short commit of the build, "-dirty" if uncommitted changes */

#endif
