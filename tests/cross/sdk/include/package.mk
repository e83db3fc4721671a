# Stand-in for an OpenWrt SDK's include/package.mk: BuildPackage unpacks PKG_SOURCE from
# DL_DIR into BUILD_DIR (the tarball must hold PKG_NAME-PKG_VERSION/), then runs the
# package's own Build/Compile, Build/InstallDev into STAGING_DIR and Package/NAME/install
# into PKG_INSTALL_ROOT/NAME, expanded the way the SDK expands them (the definition is
# evaluated, so a recipe's $$$$ reaches the shell as $). No PKG_HASH check: the tarballs
# here are of the tree at hand, not the releases the hashes name.
PKG_BUILD_DIR ?= $(BUILD_DIR)/$(PKG_NAME)-$(PKG_VERSION)

define BuildPackage
all:
	rm -rf $(PKG_BUILD_DIR)
	mkdir -p $(BUILD_DIR)
	tar -xzf $(DL_DIR)/$(PKG_SOURCE) -C $(BUILD_DIR)
	$(Build/Compile)
	$(call Build/InstallDev,$(STAGING_DIR))
	$(call Package/$(1)/install,$(PKG_INSTALL_ROOT)/$(1))
endef
