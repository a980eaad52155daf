from glob import glob

from setuptools import find_packages, setup

package_name = 'clopy_dashboard'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    package_data={package_name: ['static/*.html', 'static/*.js', 'static/*.css']},   # the dashboard's pages
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/experiments', glob('../../config/experiments/*.yaml')),
    ],
    install_requires=['setuptools'],
    extras_require={'test': ['pytest']},
    zip_safe=False,
    maintainer='CLoPy-ROS developers',
    maintainer_email='clopy-ros@example.org',
    description=open('package.xml').read().split('<description>')[1].split('</description>')[0],
    license='MIT',
    entry_points={
        'console_scripts': [
            'foxglove_bridge = clopy_dashboard.foxglove.bridge_node:main',
            'dashboard_node = clopy_dashboard.dashboard_node:main',
        ],
        # subcommands of the `clopy` command (clopy.cli loads them by this group, so that
        # bringup never imports the dashboard package)
        'clopy.commands': [
            'experiment = clopy_dashboard.experiment.commands',
            'dashboard = clopy_dashboard.commands',
        ],
    },
)
