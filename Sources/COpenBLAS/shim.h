#ifndef _GNU_SOURCE
#define _GNU_SOURCE  /* dladdr */
#endif
#include <dlfcn.h>
#include <cblas.h>

/* Makes OpenBLAS choose its kernel family again, reading OPENBLAS_CORETYPE as it does when it loads, through the
   two entry points of DYNAMIC_ARCH builds. They are looked up in the library that provides
   openblas_get_corename, not in whichever library is found first under those names (another OpenBLAS may be
   loaded ahead of it). Returns 0, changing nothing, when that library lacks either. */
static inline int svd_openblas_reselect_core(void) {
    Dl_info info;
    if (!dladdr((void *)openblas_get_corename, &info) || !info.dli_fname) return 0;
    void *library = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
    if (!library) return 0;
    void (*quit)(void) = (void (*)(void))dlsym(library, "gotoblas_dynamic_quit");
    void (*init)(void) = (void (*)(void))dlsym(library, "gotoblas_dynamic_init");
    if (quit && init) {
        quit();
        init();
    }
    dlclose(library);
    return quit && init;
}
