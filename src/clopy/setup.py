from glob import glob

from setuptools import find_packages, setup

package_name = 'clopy'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('../../launch/*.launch.py')),
        ('share/' + package_name + '/config', glob('../../config/*.yaml') + glob('../../config/*.xml')),
        ('bin', ['scripts/clopy']),
    ],
    install_requires=['setuptools'],
    extras_require={'test': ['pytest']},
    zip_safe=True,
    maintainer='CLoPy-ROS developers',
    maintainer_email='clopy-ros@example.org',
    description=open('package.xml').read().split('<description>')[1].split('</description>')[0],
    license='MIT',
    entry_points={
        'console_scripts': [
            'recorder_node = clopy.recorder_node:main',
            'hotpath_node = clopy.hotpath_node:main',
        ],
    },
)
