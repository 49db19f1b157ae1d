/* Keeps a layer library non-empty while its modules are still to come. */
typedef int xr_empty_translation_unit;
